// 6pPol protocol: recurrent network of IF neurons, all four projections (EE, EI, IE, II)
// plastic under the six-parameter polynomial rule, driven by a shared Poisson input pool.
//
// The network, options and outputs are described in docs/network-model.md (sections 1-8;
// the program: 10.1; differences from the original programs: 12).
// Standard output carries only the result marker; errors go to standard error.
#include "auryn.h"
#include "fsbi_common.h"
#include "SixParamConnection.h"

using namespace auryn;

int main(int ac, char* av[])
{
	fsbi::NetworkOptions o(100.0);
	double eta = 0.01;
	const char* projections[4] = {"ee", "ei", "ie", "ii"};
	const char* rule_options[4] = {"ruleEE", "ruleEI", "ruleIE", "ruleII"};
	std::string rule_tokens[4];
	fsbi::SixParamRule rules[4];

	boost::program_options::options_description desc(
	    "fsbi-data 6pPol program; options (paper values as defaults)");
	o.add_to(desc);
	desc.add_options()("eta", boost::program_options::value<double>(&eta),
	                   "learning rate of all four projections");
	for (int c = 0; c < 4; ++c) {
		desc.add_options()(rule_options[c],
		                   boost::program_options::value<std::string>(&rule_tokens[c])->required(),
		                   "rule token a<tau_pre>a<tau_post>a<alpha>a<beta>a<gamma>a<kappa>a");
	}
	try {
		if (!fsbi::parse_options(ac, av, desc)) return 0;
		o.validate();
		for (int c = 0; c < 4; ++c) {
			const std::string option = rule_options[c];
			const std::vector<double> v = fsbi::decode_rule(option, rule_tokens[c], 6);
			rules[c] = {v[0], v[1], v[2], v[3], v[4], v[5]};
			fsbi::require_positive(option + " tau_pre", v[0]);
			fsbi::require_positive(option + " tau_post", v[1]);
		}
		fsbi::require_nonnegative("--eta", eta);
	} catch (const std::exception& error) {
		std::cerr << "error: " << error.what() << std::endl;
		return fsbi::EXIT_BAD_INPUT;
	}

	fsbi::start_kernel(ac, av, o);

	IFGroup* neurons_e = new IFGroup(o.n_e);
	IFGroup* neurons_i = new IFGroup(o.n_i);
	for (IFGroup* group : {neurons_e, neurons_i}) {
		group->set_tau_ampa(o.tau_ampa);
		group->set_tau_gaba(o.tau_gaba);
		group->set_tau_nmda(o.tau_nmda);
		group->set_ampa_nmda_ratio(o.ampa_nmda_ratio);
	}
	new RateChecker(neurons_e, 0.0, o.max_rate_checker, o.tau_checker);

	PoissonGroup* pool = new PoissonGroup(o.n_input, o.rate_poisson);
	new SparseConnection(pool, neurons_e, o.weight_poisson, o.sparseness_poisson, GLUT);
	new SparseConnection(pool, neurons_i, o.weight_poisson, o.sparseness_poisson, GLUT);

	NeuronGroup* targets[4] = {neurons_e, neurons_i, neurons_e, neurons_i};
	SpikingGroup* sources[4] = {neurons_e, neurons_e, neurons_i, neurons_i};
	const double initial[4] = {o.wee, o.wei, o.wie, o.wii};
	const TransmitterType transmitters[4] = {GLUT, GLUT, GABA, GABA};
	fsbi::SixParamConnection* connections[4];
	for (int c = 0; c < 4; ++c) {
		connections[c] = new fsbi::SixParamConnection(
		    sources[c], targets[c], initial[c], o.sparseness, eta, rules[c], o.wmax,
		    transmitters[c], std::string("con_") + projections[c]);
	}

	const AurynTime train_stop = fsbi::steps_of(o.lns);
	const AurynTime score_stop = train_stop + fsbi::steps_of(o.ls);
	bool completed = fsbi::run_until(train_stop, o.lns);
	if (completed) {  // a blown-up run skips the scoring phase
		fsbi::record_spikes(o, neurons_e, neurons_i);
		for (int c = 0; c < 4; ++c) fsbi::record_weights(o, connections[c], projections[c]);
		completed = fsbi::run_until(score_stop, o.ls);
	}
	const double stop_time = sys->get_time();
	auryn_free();  // closes the monitor files before the marker announces the result
	fsbi::print_marker(completed, stop_time);
	return 0;
}
