"""kexue_book: the package behind *Kexue Book*, an executable companion to kexue.fm.

Subpackages are grouped by field and hold one module per idea:

- :mod:`kexue_book.prob` — probability and geometry (angles on spheres, Gaussians, entropy, ...);
- :mod:`kexue_book.ml` — classical models (Gaussian generative linear classifiers, ...);
- :mod:`kexue_book.optim`, :mod:`kexue_book.nn` — training and network building blocks.

Infrastructure: :mod:`kexue_book.runtime` (scale, device, seeding, provenance),
:mod:`kexue_book.claims` (claims as assertions) and :mod:`kexue_book.plotting`.
"""

__version__ = "0.1.0"
