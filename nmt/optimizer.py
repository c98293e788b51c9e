"""Adam whose per-variable update and gradient clipping take fewer passes over memory.

Keras' Adam writes the update as about a dozen element-wise ops per variable, each a pass over
the variable's size; ``ResourceApplyAdam`` does the same update in one pass. Keras' ``clipnorm``
squares, sums, multiplies and divides the whole gradient; here the squared norm is one reading
kernel (``l2_loss``) and the clip one multiplication by a scalar. The formula is the
same (Keras' epsilon is added to ``sqrt(v)``, as the fused kernel does), the slots are Keras'
own ``momentum`` and ``velocity`` variables, so checkpoints, resume and fine-tuning see no
difference. Sparse gradients (an embedding lookup's) keep Keras' update: it squares each slice
before summing repeated rows, which a dense kernel cannot reproduce, and training results must
not change with the kernel.
"""

from __future__ import annotations

import keras
import tensorflow as tf


class FusedAdam(keras.optimizers.Adam):
    """``keras.optimizers.Adam`` (without amsgrad) whose update runs as one kernel per variable;
    saved under Keras' Adam name, so a checkpoint loads into either."""

    def __init__(self, **kwargs):
        if kwargs.get("amsgrad"):
            raise ValueError("FusedAdam has no amsgrad; use keras.optimizers.Adam")
        kwargs.setdefault("name", "adam")
        super().__init__(**kwargs)

    def _clip_by_norm(self, values, axes=None):
        """``values`` scaled to norm at most ``clipnorm`` (Keras' clip, whole tensors only)."""
        if axes is not None or isinstance(values, tf.IndexedSlices):
            return super()._clip_by_norm(values, axes)
        norm = tf.sqrt(2.0 * tf.nn.l2_loss(values))
        clip = tf.cast(self.clipnorm, values.dtype)
        return values * (clip / tf.maximum(norm, clip))

    def update_step(self, gradient, variable, learning_rate) -> None:
        """One Adam step of ``variable`` (any shape) by ``gradient`` (its shape, or slices)."""
        if isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        beta_1 = tf.cast(self.beta_1, dtype)
        beta_2 = tf.cast(self.beta_2, dtype)
        index = self._get_variable_index(variable)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle,
            m=self._momentums[index].handle,
            v=self._velocities[index].handle,
            beta1_power=tf.pow(beta_1, step),
            beta2_power=tf.pow(beta_2, step),
            lr=tf.cast(learning_rate, dtype),
            beta1=beta_1,
            beta2=beta_2,
            epsilon=tf.cast(self.epsilon, dtype),
            grad=tf.cast(gradient, dtype),
            use_locking=False,
        )
