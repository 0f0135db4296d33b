//! aep_edge._native
