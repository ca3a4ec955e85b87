from qcpipe.cli import main

main()
