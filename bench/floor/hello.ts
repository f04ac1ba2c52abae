// The floor of any compiled command: the Bun runtime starting, writing one line and exiting.
process.stdout.write("hello\n");
