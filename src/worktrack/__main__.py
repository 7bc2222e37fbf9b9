from worktrack.entry import main

main()
