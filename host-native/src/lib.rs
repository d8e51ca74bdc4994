//! crosscast: the native host of the crosscast core.
