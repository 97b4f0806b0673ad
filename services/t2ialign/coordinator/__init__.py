"""The coordinator service: rounds of the alignment loop (Lee et al. 2023, figure 1), the evaluation gate, and
the serving pointers (promotion and rollback across every generator replica). See docs/ARCHITECTURE.md."""
