from studio_publish.cli.app import main

main()
