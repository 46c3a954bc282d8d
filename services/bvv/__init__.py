"""BVV (Basisvoorziening Vreemdelingen): issues the V-nummer, one per person."""
