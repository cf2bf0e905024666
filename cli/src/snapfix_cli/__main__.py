from snapfix_cli.app import main

main()
