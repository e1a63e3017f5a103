"""What is asked: survey files and the dialog engine. Pure logic, no audio, no I/O."""
