//! aep-edge core
