//! Every check's failing path, against a fake engine, a recording
//! command runner and temp roots.
