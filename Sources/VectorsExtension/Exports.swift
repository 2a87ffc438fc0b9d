import VectorCore; import CVectorsShim
