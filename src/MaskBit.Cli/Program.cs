MaskBit.Interop.NativeLibraryFix.EnsureLoadable();
