from kit.cli.commands import main

main()
