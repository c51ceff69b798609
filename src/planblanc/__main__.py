from planblanc.cli import main

main()
