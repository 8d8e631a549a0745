// Six-parameter polynomial plasticity rule on a random sparse projection (6pPol protocol).
//
// Described in docs/network-model.md sections 5.1-5.3.
//   presynaptic arrival at i->j: transmit w, then w += eta * (alpha + kappa * x_post_j)
//   postsynaptic spike of j:     w += eta * (beta + gamma * x_pre_i)     for every i->j
// Weights are clipped to [0, wmax] after every single update; all arrival updates of a step
// precede all post-spike updates. The increment is evaluated in single precision.
#ifndef FSBI_SIXPARAMCONNECTION_H_
#define FSBI_SIXPARAMCONNECTION_H_

#include <string>

#include "auryn.h"

namespace fsbi {

struct SixParamRule {
	double tau_pre, tau_post, alpha, beta, gamma, kappa;
};

class SixParamConnection : public auryn::DuplexConnection {
	auryn::Trace* tr_pre;
	auryn::Trace* tr_post;
	auryn::AurynFloat eta, alpha, beta, gamma, kappa;
	bool plastic;

	inline void clip(auryn::AurynWeight* weight)
	{
		if (*weight > get_max_weight()) *weight = get_max_weight();
		else if (*weight < get_min_weight()) *weight = get_min_weight();
	}

public:
	SixParamConnection(auryn::SpikingGroup* source, auryn::NeuronGroup* destination,
	                   auryn::AurynWeight initial_weight, auryn::AurynFloat sparseness,
	                   auryn::AurynFloat learning_rate, const SixParamRule& rule,
	                   auryn::AurynFloat wmax, auryn::TransmitterType transmitter,
	                   const std::string& name)
	    : auryn::DuplexConnection(source, destination, initial_weight, sparseness, transmitter,
	                              name),
	      eta(learning_rate), alpha(rule.alpha), beta(rule.beta), gamma(rule.gamma),
	      kappa(rule.kappa), plastic(learning_rate != 0.0f)
	{
		tr_pre = src->get_pre_trace(rule.tau_pre);
		tr_post = dst->get_post_trace(rule.tau_post);
		set_min_weight(0.0);
		set_max_weight(wmax);
	}

	void propagate() override
	{
		// (a) arrivals: spikes emitted by the source eight steps ago
		for (auto spike = src->get_spikes()->begin(); spike != src->get_spikes()->end();
		     ++spike) {
			for (const auryn::NeuronID* c = w->get_row_begin(*spike);
			     c != w->get_row_end(*spike); ++c) {
				auryn::AurynWeight* weight = w->get_data_ptr(c);
				transmit(*c, *weight);
				if (plastic) {
					const auryn::AurynFloat x_post = tr_post->get(dst->global2rank(*c));
					*weight += eta * (alpha + kappa * x_post);
					clip(weight);
				}
			}
		}
		if (!plastic) return;
		// (b) spikes emitted by the target in this step, through the transposed matrix
		for (auto spike = dst->get_spikes_immediate()->begin();
		     spike != dst->get_spikes_immediate()->end(); ++spike) {
			for (const auryn::NeuronID* c = bkw->get_row_begin(*spike);
			     c != bkw->get_row_end(*spike); ++c) {
				auryn::AurynWeight* weight = bkw->get_data(c);
				*weight += eta * (beta + gamma * tr_pre->get(*c));
				clip(weight);
			}
		}
	}
};

}  // namespace fsbi

#endif  // FSBI_SIXPARAMCONNECTION_H_
