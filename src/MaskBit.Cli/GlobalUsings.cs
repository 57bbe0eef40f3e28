// The option sets the commands share (Options/), each option declared once.
global using MaskBit.Cli.Options;
