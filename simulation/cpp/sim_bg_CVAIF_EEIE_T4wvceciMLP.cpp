// MLP protocol: recurrent network of CVAIF neurons; E->E and I->E plastic under the MLP rule,
// E->I and I->I static; driven by a shared Poisson input pool.
//
// The network, options and outputs are described in docs/network-model.md (sections 1-8;
// the program: 10.1; differences from the original programs: 12).
// Standard output carries only the result marker; errors go to standard error.
#include "auryn.h"
#include "CVAIFGroup.h"
#include "MLPConnection.h"
#include "fsbi_common.h"

namespace po = boost::program_options;
using namespace auryn;

int main(int ac, char* av[])
{
	fsbi::NetworkOptions o(50.0);
	std::string rule_token;
	int nh1 = 50, nh2 = 4;
	double tau_adapt = 0.1, delta_adapt = 0.1;
	double tau_vtrace = 1.0, tau_cexc = 1.0, tau_cinh = 1.0;

	po::options_description desc("fsbi-data MLP program; options (paper values as defaults)");
	o.add_to(desc);
	desc.add_options()
		("rule", po::value<std::string>(&rule_token)->required(), "aggregated rule token (2*5 + 6*nh1 + nh1*nh2 + 4*(nh2+1) numbers)")
		("nh1", po::value<int>(&nh1), "first hidden layer size")
		("nh2", po::value<int>(&nh2), "second hidden layer size")
		("tau_adapt", po::value<double>(&tau_adapt), "adaptation time constant [s]")
		("delta_adapt", po::value<double>(&delta_adapt), "adaptation increment at a spike")
		("tau_vtrace", po::value<double>(&tau_vtrace), "time constant of the membrane trace [s]")
		("tau_cexc", po::value<double>(&tau_cexc), "time constant of the excitatory current trace [s]")
		("tau_cinh", po::value<double>(&tau_cinh), "time constant of the inhibitory current trace [s]");

	fsbi::MLPRule rule_ee, rule_ie;
	try {
		if (!fsbi::parse_options(ac, av, desc)) return 0;
		o.validate();
		if (nh1 < 1 || nh2 < 1) throw fsbi::InputError("--nh1 and --nh2 must be >= 1");
		const std::size_t expected = 2 * 5 + 6 * nh1 + nh1 * nh2 + 4 * (nh2 + 1);
		const std::vector<double> agg = fsbi::decode_rule("rule", rule_token, expected);
		fsbi::split_aggregated_rule(agg, nh1, nh2, rule_ee, rule_ie);
		fsbi::require_positive("--tau_vtrace", tau_vtrace);
		fsbi::require_positive("--tau_cexc", tau_cexc);
		fsbi::require_positive("--tau_cinh", tau_cinh);
		fsbi::require_positive("--tau_adapt", tau_adapt);
		fsbi::require_nonnegative("--delta_adapt", delta_adapt);
	} catch (const std::exception& error) {
		std::cerr << "error: " << error.what() << std::endl;
		return fsbi::EXIT_BAD_INPUT;
	}

	fsbi::start_kernel(ac, av, o);

	fsbi::CVAIFGroup* neurons_e = new fsbi::CVAIFGroup(o.n_e);
	fsbi::CVAIFGroup* neurons_i = new fsbi::CVAIFGroup(o.n_i);
	for (fsbi::CVAIFGroup* group : {neurons_e, neurons_i}) {
		group->set_tau_ampa(o.tau_ampa);
		group->set_tau_gaba(o.tau_gaba);
		group->set_tau_nmda(o.tau_nmda);
		group->set_ampa_nmda_ratio(o.ampa_nmda_ratio);
		group->set_trace_taus(tau_vtrace, tau_cexc, tau_cinh);
		group->set_tau_adapt(tau_adapt);
		group->dg_adapt = delta_adapt;
	}

	PoissonGroup* pool = new PoissonGroup(o.n_input, o.rate_poisson);
	new SparseConnection(pool, neurons_e, o.weight_poisson, o.sparseness_poisson, GLUT);
	new SparseConnection(pool, neurons_i, o.weight_poisson, o.sparseness_poisson, GLUT);

	fsbi::MLPConnection* con_ee = new fsbi::MLPConnection(
	    neurons_e, neurons_e, o.wee, o.sparseness, rule_ee, nh1, nh2, o.wmax, GLUT, "con_ee");
	new SparseConnection(neurons_e, neurons_i, o.wei, o.sparseness, GLUT);
	fsbi::MLPConnection* con_ie = new fsbi::MLPConnection(
	    neurons_i, neurons_e, o.wie, o.sparseness, rule_ie, nh1, nh2, o.wmax, GABA, "con_ie");
	new SparseConnection(neurons_i, neurons_i, o.wii, o.sparseness, GABA);
	new RateChecker(neurons_e, 0.0, o.max_rate_checker, o.tau_checker);

	const AurynTime train_stop = fsbi::steps_of(o.lns);
	const AurynTime score_stop = train_stop + fsbi::steps_of(o.ls);
	bool completed = fsbi::run_until(train_stop, o.lns);
	if (completed) {  // a blown-up run skips the scoring phase
		fsbi::record_spikes(o, neurons_e, neurons_i);
		fsbi::record_weights(o, con_ee, "ee");
		fsbi::record_weights(o, con_ie, "ie");
		completed = fsbi::run_until(score_stop, o.ls);
	}
	const double stop_time = sys->get_time();
	auryn_free();  // closes the monitor files before the marker announces the result
	fsbi::print_marker(completed, stop_time);
	return 0;
}
