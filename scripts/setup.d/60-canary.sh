# The leak-canary tests: strace sees every file keep creates, and the mode it creates it with.
apt_install strace
