"""Transformer layers whose residual branches live inside one layer.

keras-hub's `TransformerEncoder` and `TransformerDecoder` add
`attention(x)` and `feedforward(x)` to `x` inside their own `call`, so
the model's graph shows one node per block and no `Add`. Their sublayers
are kept under private attribute names (keras-hub 0.32; listed in
`keras_initplus.private_api`), which is how such a block is recognised:
any layer with a Dense `_feedforward_intermediate_dense` and
`_feedforward_output_dense` and a built attention layer under
`_self_attention_layer` (and `_cross_attention_layer`).
"""

import dataclasses

import keras

ATTENTION_ATTRS = ("_self_attention_layer", "_cross_attention_layer")
FFN_IN_ATTR = "_feedforward_intermediate_dense"
FFN_OUT_ATTR = "_feedforward_output_dense"


@dataclasses.dataclass
class TransformerBlock:
    layer: object
    attentions: list
    ffn_in: object
    ffn_out: object

    @property
    def branches(self):
        return len(self.attentions) + 1


def transformer_block(layer):
    """A `TransformerBlock` if `layer` is one, else None."""
    ffn_in = getattr(layer, FFN_IN_ATTR, None)
    ffn_out = getattr(layer, FFN_OUT_ATTR, None)
    dense = keras.layers.Dense
    if not (isinstance(ffn_in, dense) and isinstance(ffn_out, dense)):
        return None
    attentions = [
        a
        for a in (getattr(layer, name, None) for name in ATTENTION_ATTRS)
        if isinstance(a, keras.layers.MultiHeadAttention) and a.built
    ]
    if not attentions or not ffn_in.built or not ffn_out.built:
        return None
    return TransformerBlock(layer, attentions, ffn_in, ffn_out)
