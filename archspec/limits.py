"""Every size limit archspec enforces, in one place. Far beyond any real spec or network,
they stop absurd input (a depth of 10⁹, 10¹² channels, a 10 GB file) before it costs time
or memory.

Read when used, so a program can change them: `archspec.limits.MAX_PARAMS = 10**12`.
"""

# the YAML file (archspec.reading.source)
MAX_FILE_BYTES = 1_000_000  # a spec is a few kilobytes
MAX_NODES = 20_000  # nodes (keys included) after alias expansion; ResNet-50's spec has 70
MAX_DEPTH = 64  # nested mappings/lists; the top-level mapping is level 1

# composition (archspec.reading.resolve)
MAX_CHAIN = 16  # specs in one `extends` chain, the spec itself included
MAX_KEY_CHARS = 1000  # characters in a `--set` key path; a key path is a few words

# every number in a spec, checked by the schema (archspec.reading.spec), so that no arithmetic on
# them overflows a float: 10¹⁵ × 10⁶ is still a float, and exact where it must be
MAX_WHOLE = 10**15  # any whole number (channels, sizes, depths): far beyond the parameter limit
MAX_FACTOR = 10**6  # any other number (a ratio, a multiplier, a slope, a scale): real ones are below 100

# the planned network (archspec.planning)
MAX_PARAMS = 10**11  # planned parameters: 400 GB of float32 weights
MAX_MACS = 10**18  # planned multiply-adds per image
MAX_BLOCKS = 10_000  # planned blocks in the whole network (a RegNet generator's depth too); ResNet-1202 has 600
MAX_MAP_ELEMENTS = 10**12  # values of an upsampled map (4 TB of float32): an upsample has no MACs to stop it
MAX_BUILD_PARAMS = 4 * 10**9  # parameters `build` allocates (16 GB of float32): --max-params, build(max_params=)
MAX_BLOCK_NODES = 1_000  # modules in one block written in the spec, blocks it uses written out; Inception's has 22
MAX_NETWORK_NODES = 100_000  # modules of blocks written in the spec, over the whole network
MAX_NODE_INPUTS = 1_000  # inputs of one node (a concat, an add); DenseNet-264's widest concat has 65

# a weights file (archspec.building.weightsfile), checked before anything is allocated
MAX_HEADER_BYTES = 16 * 2**20  # a safetensors header; a ResNet-152's is 60 kB, safetensors' own cap is 100 MB
MAX_TENSORS = 100_000  # tensors named in one file; a real network has a few thousand
MAX_HEADER_DIGITS = 20  # digits of any JSON number in the header (a shape, an offset)
