from gomme.cli import main

main()
