//! Native nf_tables rulesets in `nft list ruleset` syntax.
