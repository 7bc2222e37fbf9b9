"""The board (contract §9): a read-only page over the service layer, served by
``worktrack board`` on loopback and by ``worktrack serve --http`` at ``/board``."""
