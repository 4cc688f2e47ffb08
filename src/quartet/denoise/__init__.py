"""Sub-band Pyramid Attention (SPA) for real image denoising (Li et al., ICIG 2021, arXiv 2012.12481)."""
