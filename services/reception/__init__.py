"""Reception (COA): places applicants, ends reception when the case is over."""
