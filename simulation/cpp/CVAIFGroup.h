// Conductance-based integrate-and-fire neurons with spike-triggered adaptation and three slow
// state traces (low-passed membrane potential and excitatory/inhibitory synaptic currents),
// read by the MLP plasticity rule.
//
// Described in docs/network-model.md section 3.2. The three trace time constants are
// independent parameters (the original coupled the membrane trace to tau_cexc; section 12.7).
#ifndef FSBI_CVAIFGROUP_H_
#define FSBI_CVAIFGROUP_H_

#include <algorithm>
#include <cmath>

#include "auryn.h"

namespace fsbi {

class CVAIFGroup : public auryn::NeuronGroup {
	auryn::AurynStateVector* g_adapt;
	auryn::AurynStateVector* vtrace;
	auryn::AurynStateVector* cexc;
	auryn::AurynStateVector* cinh;

	auryn::AurynFloat tau_ampa = 5e-3, tau_gaba = 10e-3, tau_nmda = 100e-3;
	auryn::AurynFloat tau_mem = 20e-3, tau_thr = 5e-3, tau_adapt = 100e-3;
	auryn::AurynFloat tau_vtrace = 1.0, tau_cexc = 1.0, tau_cinh = 1.0;
	auryn::AurynFloat A_ampa = 0.5, A_nmda = 0.5;
	auryn::AurynFloat scale_ampa, scale_gaba, scale_thr, scale_adapt;
	auryn::AurynFloat mul_nmda, mul_mem, mul_vtrace, mul_cexc, mul_cinh;

	void calculate_scale_constants()
	{
		const double dt = auryn::auryn_timestep;
		scale_ampa = std::exp(-dt / tau_ampa);
		scale_gaba = std::exp(-dt / tau_gaba);
		scale_thr = std::exp(-dt / tau_thr);
		scale_adapt = std::exp(-dt / tau_adapt);
		mul_nmda = dt / tau_nmda;  // forward Euler, unlike the IF group
		mul_mem = dt / tau_mem;
		mul_vtrace = dt / tau_vtrace;
		mul_cexc = dt / tau_cexc;
		mul_cinh = dt / tau_cinh;
	}

public:
	auryn::AurynFloat e_rest = -70e-3, e_reset = -70e-3, e_inh = -80e-3;
	auryn::AurynFloat thr_rest = -50e-3, dthr = 100e-3, dg_adapt = 0.1;

	explicit CVAIFGroup(auryn::NeuronID size) : auryn::NeuronGroup(size)
	{
		auryn::sys->register_spiking_group(this);
		if (!evolve_locally()) return;
		g_adapt = get_state_vector("g_adapt");
		vtrace = get_state_vector("vtrace");
		cexc = get_state_vector("cexc");
		cinh = get_state_vector("cinh");
		calculate_scale_constants();
		clear();
	}

	void clear()
	{
		clear_spikes();
		mem->set_all(e_rest);
		vtrace->set_all(e_rest);
		thr->set_zero();
		g_ampa->set_zero();
		g_gaba->set_zero();
		g_nmda->set_zero();
		g_adapt->set_zero();
		cexc->set_zero();
		cinh->set_zero();
	}

	void set_tau_ampa(auryn::AurynFloat tau) { tau_ampa = tau; calculate_scale_constants(); }
	void set_tau_gaba(auryn::AurynFloat tau) { tau_gaba = tau; calculate_scale_constants(); }
	void set_tau_nmda(auryn::AurynFloat tau) { tau_nmda = tau; calculate_scale_constants(); }
	void set_tau_adapt(auryn::AurynFloat tau) { tau_adapt = tau; calculate_scale_constants(); }
	void set_trace_taus(auryn::AurynFloat vtrace_tau, auryn::AurynFloat cexc_tau,
	                    auryn::AurynFloat cinh_tau)
	{
		tau_vtrace = vtrace_tau;
		tau_cexc = cexc_tau;
		tau_cinh = cinh_tau;
		calculate_scale_constants();
	}
	void set_ampa_nmda_ratio(auryn::AurynFloat ratio)
	{
		A_ampa = ratio / (ratio + 1.0);
		A_nmda = 1.0 / (ratio + 1.0);
	}

	// One integration step (docs/network-model.md section 3.2, "discrete update").
	void evolve() override
	{
		const auryn::NeuronID n = get_rank_size();
		for (auryn::NeuronID i = 0; i < n; ++i) {
			const auryn::AurynFloat ga = g_ampa->data[i] * scale_ampa;
			const auryn::AurynFloat gg = g_gaba->data[i] * scale_gaba;
			auryn::AurynFloat gw = g_adapt->data[i] * scale_adapt;
			const auryn::AurynFloat gn = (1.0f - mul_nmda) * (g_nmda->data[i] + mul_nmda * ga);
			auryn::AurynFloat v = mem->data[i];
			const auryn::AurynFloat i_exc = -(A_ampa * ga + A_nmda * gn) * v;
			const auryn::AurynFloat i_inh = (v - e_inh) * (gg + gw);
			cexc->data[i] = (1.0f - mul_cexc) * (cexc->data[i] + mul_cexc * i_exc);
			cinh->data[i] = (1.0f - mul_cinh) * (cinh->data[i] + mul_cinh * i_inh);
			vtrace->data[i] = (1.0f - mul_vtrace) * (vtrace->data[i] + mul_vtrace * v);
			auryn::AurynFloat th = thr->data[i] * scale_thr;
			v += mul_mem * (i_exc - i_inh - (v - e_rest));
			v = std::min(std::max(v, e_inh), 0.0f);
			if (v > thr_rest + th) {
				push_spike(i);
				v = e_reset;
				th = dthr;
				gw += dg_adapt;
			}
			g_ampa->data[i] = ga;
			g_gaba->data[i] = gg;
			g_nmda->data[i] = gn;
			g_adapt->data[i] = gw;
			thr->data[i] = th;
			mem->data[i] = v;
		}
	}
};

}  // namespace fsbi

#endif  // FSBI_CVAIFGROUP_H_
