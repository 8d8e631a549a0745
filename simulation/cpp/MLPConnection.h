// Plasticity rule given by a small multilayer perceptron (MLP protocol).
//
// Described in docs/network-model.md sections 5.1, 5.4 and 5.5. Inputs of the
// network: a presynaptic trace, a postsynaptic trace, the weight, and the postsynaptic
// neuron's low-passed membrane potential and synaptic currents (a CVAIFGroup target).
//   presynaptic arrival at i->j: transmit w, then w += eta * y(x_pre2_i, x_post1_j, ..., W_pre)
//   postsynaptic spike of j:     w += eta * y(x_pre1_i, x_post2_j, ..., W_post) for every i->j
#ifndef FSBI_MLPCONNECTION_H_
#define FSBI_MLPCONNECTION_H_

#include <cmath>
#include <string>
#include <vector>

#include "auryn.h"
#include "CVAIFGroup.h"
#include "fsbi_common.h"

namespace fsbi {

// Coefficients of one projection's rule (section 5.4, offsets relative to the vector).
struct MLPRule {
	double eta, tau_pre1, tau_pre2, tau_post1, tau_post2;
	std::vector<float> w1;        // nh1 x 6, element (u, k) at 6u + k
	std::vector<float> w2;        // element (v, u) at u + nh1 v
	std::vector<float> out_pre;   // nh2 weights, then the bias
	std::vector<float> out_post;  // nh2 weights, then the bias
};

// Split the aggregated rule vector of the command line (section 5.5) into the E->E and
// I->E rules.
inline void split_aggregated_rule(const std::vector<double>& agg, int nh1, int nh2,
                                  MLPRule& ee, MLPRule& ie)
{
	const std::size_t n_w1 = 6 * nh1, n_w2 = nh1 * nh2, n_out = nh2 + 1;
	const std::size_t shared = 10, pre_ee = shared + n_w1 + n_w2;
	MLPRule* rules[2] = {&ee, &ie};
	for (int r = 0; r < 2; ++r) {
		MLPRule& rule = *rules[r];
		rule.eta = agg[r];
		rule.tau_pre1 = agg[2 + 4 * r];
		rule.tau_pre2 = agg[3 + 4 * r];
		rule.tau_post1 = agg[4 + 4 * r];
		rule.tau_post2 = agg[5 + 4 * r];
		rule.w1.assign(agg.begin() + shared, agg.begin() + shared + n_w1);
		rule.w2.assign(agg.begin() + shared + n_w1, agg.begin() + pre_ee);
		const std::size_t out = pre_ee + 2 * n_out * r;
		rule.out_pre.assign(agg.begin() + out, agg.begin() + out + n_out);
		rule.out_post.assign(agg.begin() + out + n_out, agg.begin() + out + 2 * n_out);
		require_nonnegative("learning rate eta", rule.eta);
		require_positive("MLP trace time constant tau_pre1", rule.tau_pre1);
		require_positive("MLP trace time constant tau_pre2", rule.tau_pre2);
		require_positive("MLP trace time constant tau_post1", rule.tau_post1);
		require_positive("MLP trace time constant tau_post2", rule.tau_post2);
	}
}

// Logistic function, two-branch form: exponential in single precision, division in double,
// result rounded to single (section 5.4).
inline float sigmoid(float z)
{
	if (z > 0.0f) {
		const double e = std::exp(-z);
		return static_cast<float>(1.0 / (1.0 + e));
	}
	const double e = std::exp(z);
	return static_cast<float>(e / (1.0 + e));
}

class MLPConnection : public auryn::DuplexConnection {
	auryn::Trace* tr_pre1;
	auryn::Trace* tr_pre2;
	auryn::Trace* tr_post1;
	auryn::Trace* tr_post2;
	auryn::AurynStateVector* vtrace;
	auryn::AurynStateVector* cexc;
	auryn::AurynStateVector* cinh;
	MLPRule rule;
	int nh1, nh2;
	auryn::AurynFloat eta;
	std::vector<float> hidden1;

	// Fixed input rescaling of the first layer: traces x2, weight x1, neuron traces x15.
	static constexpr float scale_trace = 2.0f, scale_weight = 1.0f, scale_neuron = 15.0f;

	float output(float a, float b, float weight, auryn::NeuronID post,
	             const std::vector<float>& out)
	{
		const float in[6] = {scale_trace * a, scale_trace * b, scale_weight * weight,
		                     scale_neuron * vtrace->data[post],
		                     scale_neuron * cexc->data[post],
		                     scale_neuron * cinh->data[post]};
		for (int u = 0; u < nh1; ++u) {
			const float* row = &rule.w1[6 * u];
			float z = 0.0f;
			for (int k = 0; k < 6; ++k) z += in[k] * row[k];
			hidden1[u] = sigmoid(z);
		}
		float y = out[nh2];
		for (int v = 0; v < nh2; ++v) {
			const float* column = &rule.w2[nh1 * v];
			float z = 0.0f;
			for (int u = 0; u < nh1; ++u) z += hidden1[u] * column[u];
			y += sigmoid(z) * out[v];
		}
		return y;
	}

	inline void clip(auryn::AurynWeight* weight)
	{
		if (*weight > get_max_weight()) *weight = get_max_weight();
		else if (*weight < get_min_weight()) *weight = get_min_weight();
	}

public:
	MLPConnection(auryn::SpikingGroup* source, CVAIFGroup* destination,
	              auryn::AurynWeight initial_weight, auryn::AurynFloat sparseness,
	              const MLPRule& mlp_rule, int n_hidden1, int n_hidden2, auryn::AurynFloat wmax,
	              auryn::TransmitterType transmitter, const std::string& name)
	    : auryn::DuplexConnection(source, destination, initial_weight, sparseness, transmitter,
	                              name),
	      rule(mlp_rule), nh1(n_hidden1), nh2(n_hidden2), eta(mlp_rule.eta),
	      hidden1(n_hidden1)
	{
		tr_pre1 = src->get_pre_trace(rule.tau_pre1);
		tr_pre2 = src->get_pre_trace(rule.tau_pre2);
		tr_post1 = dst->get_post_trace(rule.tau_post1);
		tr_post2 = dst->get_post_trace(rule.tau_post2);
		vtrace = destination->get_state_vector("vtrace");
		cexc = destination->get_state_vector("cexc");
		cinh = destination->get_state_vector("cinh");
		set_min_weight(0.0);
		set_max_weight(wmax);
	}

	void propagate() override
	{
		for (auto spike = src->get_spikes()->begin(); spike != src->get_spikes()->end();
		     ++spike) {
			const float x_pre2 = tr_pre2->get(*spike);
			for (const auryn::NeuronID* c = w->get_row_begin(*spike);
			     c != w->get_row_end(*spike); ++c) {
				auryn::AurynWeight* weight = w->get_data_ptr(c);
				transmit(*c, *weight);
				const auryn::NeuronID post = dst->global2rank(*c);
				*weight += eta * output(x_pre2, tr_post1->get(post), *weight, post,
				                        rule.out_pre);
				clip(weight);
			}
		}
		for (auto spike = dst->get_spikes_immediate()->begin();
		     spike != dst->get_spikes_immediate()->end(); ++spike) {
			const auryn::NeuronID post = dst->global2rank(*spike);
			const float x_post2 = tr_post2->get(post);
			for (const auryn::NeuronID* c = bkw->get_row_begin(*spike);
			     c != bkw->get_row_end(*spike); ++c) {
				auryn::AurynWeight* weight = bkw->get_data(c);
				*weight += eta * output(tr_pre1->get(*c), x_post2, *weight, post,
				                        rule.out_post);
				clip(weight);
			}
		}
	}
};

}  // namespace fsbi

#endif  // FSBI_MLPCONNECTION_H_
