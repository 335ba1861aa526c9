"""SR data and scoring: MATLAB-compatible bicubic resizing (:mod:`.resize`), images, data layouts,
the built-in set and the patch sampler (:mod:`.data`), the literature's PSNR/SSIM (:mod:`.metrics`)
and scoring an upscaler on a set (:mod:`.evaluate`). Imports only :mod:`slwsr_search.model` (and the shared helpers)."""
