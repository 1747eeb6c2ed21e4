# man pages (filled below)
