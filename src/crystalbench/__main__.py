from crystalbench.cli import main

main()
