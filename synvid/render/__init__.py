"""The synthetic videos of Section 3.1: renderer (video), rasterisers, dynamics, streaming and materialising."""

# Bumped whenever the pixels of a video (name, index, seed, config) change. A materialised set records the version it
# was rendered with (render_version.json first, manifest.json last), and writer.check_render_version refuses any
# other, so an old set is neither resumed nor pre-trained on. 1: unrecorded. 2: textured circles read the
# window [0, 2r]^2 of their texture, offline circles never rotate or scale, image crops at 512^2 nearest, offline
# lengths 100-199.
RENDER_VERSION = 2
