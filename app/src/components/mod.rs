//! Pieces shared by pages.

pub mod error_notice;
pub mod nav;
pub mod usage_bar;
