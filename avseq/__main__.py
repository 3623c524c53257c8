from avseq.cli import main

main()
