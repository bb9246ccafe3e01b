// The activation slot of the MLP, chosen by name: a registered function (core/functions.h:
// gelu, gelu-tanh, relu, silu, exp) or a DAPA / PWL table approximating one of them
// (nn/table_activation.h). Either is a Pointwise (autograd/ops.h), so the MLP runs it
// through activation_linear, which recomputes the activation in backward instead of
// saving its output.
#pragma once

#include <memory>
#include <string>

#include "autograd/ops.h"

namespace dapa {

using Activation = Pointwise;

// Throws std::invalid_argument naming the known activations for anything else.
std::unique_ptr<Activation> make_activation(const std::string& name);
// Every name make_activation takes, for help texts and errors.
std::string activation_names();
// The attention softmax's exp by name (`--softmax`): nullptr for "exact" (the fused exact
// softmax), or a DAPA / PWL table of exp bounded to the max-shifted scores. Throws
// std::invalid_argument naming kSoftmaxNames for anything else.
std::unique_ptr<Activation> make_softmax_exp(const std::string& name);

// The registered function an activation computes ("silu") or approximates ("dapa:16:silu");
// throws like make_activation for unknown names.
const ElementwiseFunction& activation_function(const std::string& name);

}  // namespace dapa
