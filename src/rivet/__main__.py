from rivet.cli.app import main

main()
