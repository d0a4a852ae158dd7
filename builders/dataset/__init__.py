"""The dataset format: schema, layout and version, writer, card, load, Hub push, HDF5 export."""
