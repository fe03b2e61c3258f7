//! Pieces shared by pages.

pub mod nav;
pub mod usage_bar;
