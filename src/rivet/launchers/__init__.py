"""Ways to start a sealed plan's workers (`rivet apply PLAN --worker`) from a framework that places
and restarts processes. rivet schedules nothing itself: these only hand the same worker to it."""
