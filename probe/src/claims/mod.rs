//! TODO: see DESIGN.md
