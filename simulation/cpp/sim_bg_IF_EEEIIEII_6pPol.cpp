// 6pPol protocol: recurrent network of IF neurons, all four projections (EE, EI, IE, II)
// plastic under the six-parameter polynomial rule, driven by a shared Poisson input pool.
//
// Written for fsbi-data from spec/network-models.md (sections 1-8, 10 and 13).
// Standard output carries only the result marker; errors go to standard error.
#include <boost/program_options.hpp>

#include "auryn.h"
#include "fsbi_common.h"
#include "SixParamConnection.h"

namespace po = boost::program_options;
using namespace auryn;

int main(int ac, char* av[])
{
	std::string id = "0", workdir;
	std::string rule_tokens[4];
	const char* projections[4] = {"ee", "ei", "ie", "ii"};
	const char* rule_options[4] = {"ruleEE", "ruleEI", "ruleIE", "ruleII"};
	unsigned int seed = 0;
	int n_e = 4096, n_i = 1024, n_input = 5000, n_recorded = 1000, n_recorded_i = 500;
	double tau_ampa = 5e-3, tau_gaba = 10e-3, tau_nmda = 100e-3, ampa_nmda_ratio = 0.3;
	double eta = 0.01, wmax = 20.0, wee = 0.1, wei = 0.1, wie = 1.0, wii = 1.0;
	double sparseness = 0.1, sparseness_poisson = 0.05, rate_poisson = 10.0;
	double weight_poisson = 0.075, max_rate_checker = 100.0, tau_checker = 1.0;
	double lns = 60.0, ls = 10.0, weight_sample_interval = 0.1;
	int n_monitored_synapses = 100;
	bool record_i = true;

	po::options_description desc("fsbi-data 6pPol program; options (paper values as defaults)");
	desc.add_options()
		("help", "print this help")
		("ID", po::value<std::string>(&id), "label used in the output file names")
		("seed", po::value<unsigned int>(&seed)->required(), "network seed (>= 1): connectivity and input")
		("workdir", po::value<std::string>(&workdir)->required(), "existing output directory")
		("ruleEE", po::value<std::string>(&rule_tokens[0])->required(), "E->E rule token a<tau_pre>a<tau_post>a<alpha>a<beta>a<gamma>a<kappa>a")
		("ruleEI", po::value<std::string>(&rule_tokens[1])->required(), "E->I rule token")
		("ruleIE", po::value<std::string>(&rule_tokens[2])->required(), "I->E rule token")
		("ruleII", po::value<std::string>(&rule_tokens[3])->required(), "I->I rule token")
		("rate_poisson", po::value<double>(&rate_poisson)->required(), "input rate [Hz]")
		("NE", po::value<int>(&n_e), "excitatory population size")
		("NI", po::value<int>(&n_i), "inhibitory population size")
		("tau_ampa", po::value<double>(&tau_ampa), "AMPA time constant [s]")
		("tau_gaba", po::value<double>(&tau_gaba), "GABA time constant [s]")
		("tau_nmda", po::value<double>(&tau_nmda), "NMDA time constant [s]")
		("ampa_nmda_ratio", po::value<double>(&ampa_nmda_ratio), "AMPA/NMDA ratio")
		("eta", po::value<double>(&eta), "learning rate of all four projections")
		("wmax", po::value<double>(&wmax), "upper weight bound")
		("wee", po::value<double>(&wee), "initial E->E weight")
		("wei", po::value<double>(&wei), "initial E->I weight")
		("wie", po::value<double>(&wie), "initial I->E weight")
		("wii", po::value<double>(&wii), "initial I->I weight")
		("sparseness", po::value<double>(&sparseness), "recurrent connection probability")
		("N_input", po::value<int>(&n_input), "Poisson pool size")
		("sparseness_poisson", po::value<double>(&sparseness_poisson), "input connection probability")
		("weight_poisson", po::value<double>(&weight_poisson), "input weight")
		("max_rate_checker", po::value<double>(&max_rate_checker), "blow-up threshold of the E rate [Hz]")
		("tau_checker", po::value<double>(&tau_checker), "rate checker time constant [s]")
		("lns", po::value<double>(&lns), "training duration [s]")
		("ls", po::value<double>(&ls), "scoring duration [s]")
		("n_recorded", po::value<int>(&n_recorded), "record E neurons 0..n-1")
		("record_i", po::value<bool>(&record_i), "also record I neurons")
		("n_recorded_i", po::value<int>(&n_recorded_i), "record I neurons 0..n-1")
		("n_monitored_synapses", po::value<int>(&n_monitored_synapses), "weights followed per plastic projection")
		("weight_sample_interval", po::value<double>(&weight_sample_interval), "weight sampling interval [s]");

	fsbi::SixParamRule rules[4];
	try {
		po::variables_map vm;
		po::store(po::parse_command_line(ac, av, desc), vm);
		if (vm.count("help")) { std::cerr << desc << std::endl; return 0; }
		po::notify(vm);
		if (seed < 1) throw fsbi::InputError("--seed must be >= 1 (0 would mean a clock seed)");
		for (int c = 0; c < 4; ++c) {
			const std::string option = rule_options[c];
			const std::vector<double> v = fsbi::decode_rule(option, rule_tokens[c], 6);
			rules[c] = {v[0], v[1], v[2], v[3], v[4], v[5]};
			fsbi::require_positive(option + " tau_pre", v[0]);
			fsbi::require_positive(option + " tau_post", v[1]);
		}
		fsbi::require_nonnegative("--rate_poisson", rate_poisson);
		fsbi::require_nonnegative("--lns", lns);
		fsbi::require_positive("--ls", ls);
		fsbi::require_positive("--weight_sample_interval", weight_sample_interval);
		if (n_monitored_synapses < 1) throw fsbi::InputError("--n_monitored_synapses must be >= 1");
		if (n_e < 1 || n_i < 1 || n_input < 1)
			throw fsbi::InputError("--NE, --NI and --N_input must be >= 1");
		if (n_recorded > n_e || n_recorded_i > n_i)
			throw fsbi::InputError("--n_recorded / --n_recorded_i exceed the population size");
	} catch (const std::exception& error) {
		std::cerr << "error: " << error.what() << std::endl;
		return fsbi::EXIT_BAD_INPUT;
	}

	auryn_init(ac, av, workdir, "default", "", NONE, NONE);
	sys->quiet = true;
	sys->set_master_seed(seed);

	IFGroup* neurons_e = new IFGroup(n_e);
	IFGroup* neurons_i = new IFGroup(n_i);
	for (IFGroup* group : {neurons_e, neurons_i}) {
		group->set_tau_ampa(tau_ampa);
		group->set_tau_gaba(tau_gaba);
		group->set_tau_nmda(tau_nmda);
		group->set_ampa_nmda_ratio(ampa_nmda_ratio);
	}
	new RateChecker(neurons_e, 0.0, max_rate_checker, tau_checker);

	PoissonGroup* pool = new PoissonGroup(n_input, rate_poisson);
	new SparseConnection(pool, neurons_e, weight_poisson, sparseness_poisson, GLUT);
	new SparseConnection(pool, neurons_i, weight_poisson, sparseness_poisson, GLUT);

	NeuronGroup* targets[4] = {neurons_e, neurons_i, neurons_e, neurons_i};
	SpikingGroup* sources[4] = {neurons_e, neurons_e, neurons_i, neurons_i};
	const double initial[4] = {wee, wei, wie, wii};
	const TransmitterType transmitters[4] = {GLUT, GLUT, GABA, GABA};
	fsbi::SixParamConnection* connections[4];
	for (int c = 0; c < 4; ++c) {
		connections[c] = new fsbi::SixParamConnection(
		    sources[c], targets[c], initial[c], sparseness, eta, rules[c], wmax,
		    transmitters[c], std::string("con_") + projections[c]);
	}

	const AurynTime train_stop = fsbi::steps_of(lns);
	const AurynTime score_stop = train_stop + fsbi::steps_of(ls);
	bool completed = fsbi::run_until(train_stop, lns);
	if (completed) {  // a blown-up run skips the scoring phase
		new SpikeMonitor(neurons_e, sys->fn("out.e." + id, "ras"), n_recorded);
		if (record_i) new SpikeMonitor(neurons_i, sys->fn("out.i." + id, "ras"), n_recorded_i);
		for (int c = 0; c < 4; ++c) {
			WeightMonitor* monitor = new WeightMonitor(
			    connections[c], sys->fn(std::string("con_") + projections[c] + "." + id, "syn"), weight_sample_interval);
			monitor->add_equally_spaced(n_monitored_synapses);
		}
		completed = fsbi::run_until(score_stop, ls);
	}
	const double stop_time = sys->get_time();
	auryn_free();  // closes the monitor files before the marker announces the result
	fsbi::print_marker(completed, stop_time);
	return 0;
}
