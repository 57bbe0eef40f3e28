return MaskBit.Cli.App.Run(args);
