//! Pieces shared by pages.

pub mod agreement_chart;
pub mod checks;
pub mod code_editor;
pub mod error_notice;
pub mod feedback;
pub mod lazy_panel;
pub mod load_chart;
pub mod matrix;
pub mod nav;
pub mod posted_form;
pub mod timeline;
pub mod usage_bar;
