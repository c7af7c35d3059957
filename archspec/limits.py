"""Size limits on what a spec may ask for. Far beyond any real network, they stop absurd
specs (a depth of 10⁹, 10¹² channels) before they cost time or memory.

Read when used, so a program can change them: `archspec.limits.MAX_PARAMS = 10**12`.
The limits on the YAML file itself are in `archspec.reading.source` (MAX_FILE_BYTES,
MAX_NODES, MAX_DEPTH).
"""

MAX_PARAMS = 10**11  # planned parameters: 400 GB of float32 weights
MAX_MACS = 10**18  # planned multiply-adds per image
MAX_BLOCKS = 10_000  # planned blocks in the whole network; ResNet-1202 has 600
MAX_BUILD_PARAMS = 4 * 10**9  # parameters `build` allocates (16 GB of float32): --max-params, build(max_params=)
MAX_BLOCK_NODES = 1_000  # modules in one block written in the spec, blocks it uses written out; Inception's has 22
MAX_NETWORK_NODES = 100_000  # modules of blocks written in the spec, over the whole network
MAX_NODE_INPUTS = 1_000  # inputs of one node (a concat, an add); DenseNet-264's widest concat has 65
