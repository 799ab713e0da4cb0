from rivet.mcp_server.server import main

main()
