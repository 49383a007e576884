from studio_publish.cli import main

main()
