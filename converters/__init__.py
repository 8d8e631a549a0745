"""Converters: released ``.npy`` files into stores, raw HDF5 simulations into raw stores."""
