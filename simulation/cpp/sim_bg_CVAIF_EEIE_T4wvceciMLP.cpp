// MLP protocol: recurrent network of CVAIF neurons; E->E and I->E plastic under the MLP rule,
// E->I and I->I static; driven by a shared Poisson input pool.
//
// Written for fsbi-data from spec/network-models.md (sections 1-8, 10 and 13).
// Standard output carries only the result marker; errors go to standard error.
#include <boost/program_options.hpp>

#include "auryn.h"
#include "CVAIFGroup.h"
#include "MLPConnection.h"
#include "fsbi_common.h"

namespace po = boost::program_options;
using namespace auryn;

int main(int ac, char* av[])
{
	std::string id = "0", workdir, rule_token;
	unsigned int seed = 0;
	int n_e = 4096, n_i = 1024, n_input = 5000, n_recorded = 1000, n_recorded_i = 500;
	int nh1 = 50, nh2 = 4;
	double tau_ampa = 5e-3, tau_gaba = 10e-3, tau_nmda = 100e-3, ampa_nmda_ratio = 0.3;
	double tau_adapt = 0.1, delta_adapt = 0.1;
	double tau_vtrace = 1.0, tau_cexc = 1.0, tau_cinh = 1.0;
	double wmax = 20.0, wee = 0.1, wei = 0.1, wie = 1.0, wii = 1.0;
	double sparseness = 0.1, sparseness_poisson = 0.05, rate_poisson = 10.0;
	double weight_poisson = 0.075, max_rate_checker = 50.0, tau_checker = 1.0;
	double lns = 60.0, ls = 10.0, weight_sample_interval = 0.1;
	int n_monitored_synapses = 100;
	bool record_i = true;

	po::options_description desc("fsbi-data MLP program; options (paper values as defaults)");
	desc.add_options()
		("help", "print this help")
		("ID", po::value<std::string>(&id), "label used in the output file names")
		("seed", po::value<unsigned int>(&seed)->required(), "network seed (>= 1): connectivity and input")
		("workdir", po::value<std::string>(&workdir)->required(), "existing output directory")
		("rule", po::value<std::string>(&rule_token)->required(), "aggregated rule token (2*5 + 6*nh1 + nh1*nh2 + 4*(nh2+1) numbers)")
		("rate_poisson", po::value<double>(&rate_poisson)->required(), "input rate [Hz]")
		("NE", po::value<int>(&n_e), "excitatory population size")
		("NI", po::value<int>(&n_i), "inhibitory population size")
		("tau_ampa", po::value<double>(&tau_ampa), "AMPA time constant [s]")
		("tau_gaba", po::value<double>(&tau_gaba), "GABA time constant [s]")
		("tau_nmda", po::value<double>(&tau_nmda), "NMDA time constant [s]")
		("ampa_nmda_ratio", po::value<double>(&ampa_nmda_ratio), "AMPA/NMDA ratio")
		("tau_vtrace", po::value<double>(&tau_vtrace), "time constant of the membrane trace [s]")
		("tau_cexc", po::value<double>(&tau_cexc), "time constant of the excitatory current trace [s]")
		("tau_cinh", po::value<double>(&tau_cinh), "time constant of the inhibitory current trace [s]")
		("tau_adapt", po::value<double>(&tau_adapt), "adaptation time constant [s]")
		("delta_adapt", po::value<double>(&delta_adapt), "adaptation increment at a spike")
		("nh1", po::value<int>(&nh1), "first hidden layer size")
		("nh2", po::value<int>(&nh2), "second hidden layer size")
		("wmax", po::value<double>(&wmax), "upper weight bound of E->E and I->E")
		("wee", po::value<double>(&wee), "initial E->E weight")
		("wei", po::value<double>(&wei), "static E->I weight")
		("wie", po::value<double>(&wie), "initial I->E weight")
		("wii", po::value<double>(&wii), "static I->I weight")
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

	fsbi::MLPRule rule_ee, rule_ie;
	try {
		po::variables_map vm;
		po::store(po::parse_command_line(ac, av, desc), vm);
		if (vm.count("help")) { std::cerr << desc << std::endl; return 0; }
		po::notify(vm);
		if (seed < 1) throw fsbi::InputError("--seed must be >= 1 (0 would mean a clock seed)");
		if (nh1 < 1 || nh2 < 1) throw fsbi::InputError("--nh1 and --nh2 must be >= 1");
		const std::size_t expected = 2 * 5 + 6 * nh1 + nh1 * nh2 + 4 * (nh2 + 1);
		const std::vector<double> agg = fsbi::decode_rule("rule", rule_token, expected);
		fsbi::split_aggregated_rule(agg, nh1, nh2, rule_ee, rule_ie);
		fsbi::require_positive("--tau_vtrace", tau_vtrace);
		fsbi::require_positive("--tau_cexc", tau_cexc);
		fsbi::require_positive("--tau_cinh", tau_cinh);
		fsbi::require_positive("--tau_adapt", tau_adapt);
		fsbi::require_nonnegative("--delta_adapt", delta_adapt);
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

	fsbi::CVAIFGroup* neurons_e = new fsbi::CVAIFGroup(n_e);
	fsbi::CVAIFGroup* neurons_i = new fsbi::CVAIFGroup(n_i);
	for (fsbi::CVAIFGroup* group : {neurons_e, neurons_i}) {
		group->set_tau_ampa(tau_ampa);
		group->set_tau_gaba(tau_gaba);
		group->set_tau_nmda(tau_nmda);
		group->set_ampa_nmda_ratio(ampa_nmda_ratio);
		group->set_trace_taus(tau_vtrace, tau_cexc, tau_cinh);
		group->set_tau_adapt(tau_adapt);
		group->dg_adapt = delta_adapt;
	}

	PoissonGroup* pool = new PoissonGroup(n_input, rate_poisson);
	new SparseConnection(pool, neurons_e, weight_poisson, sparseness_poisson, GLUT);
	new SparseConnection(pool, neurons_i, weight_poisson, sparseness_poisson, GLUT);

	fsbi::MLPConnection* con_ee = new fsbi::MLPConnection(
	    neurons_e, neurons_e, wee, sparseness, rule_ee, nh1, nh2, wmax, GLUT, "con_ee");
	new SparseConnection(neurons_e, neurons_i, wei, sparseness, GLUT);
	fsbi::MLPConnection* con_ie = new fsbi::MLPConnection(
	    neurons_i, neurons_e, wie, sparseness, rule_ie, nh1, nh2, wmax, GABA, "con_ie");
	new SparseConnection(neurons_i, neurons_i, wii, sparseness, GABA);
	new RateChecker(neurons_e, 0.0, max_rate_checker, tau_checker);

	const AurynTime train_stop = fsbi::steps_of(lns);
	const AurynTime score_stop = train_stop + fsbi::steps_of(ls);
	bool completed = fsbi::run_until(train_stop, lns);
	if (completed) {  // a blown-up run skips the scoring phase
		new SpikeMonitor(neurons_e, sys->fn("out.e." + id, "ras"), n_recorded);
		if (record_i) new SpikeMonitor(neurons_i, sys->fn("out.i." + id, "ras"), n_recorded_i);
		WeightMonitor* monitor_ee = new WeightMonitor(con_ee, sys->fn("con_ee." + id, "syn"), weight_sample_interval);
		monitor_ee->add_equally_spaced(n_monitored_synapses);
		WeightMonitor* monitor_ie = new WeightMonitor(con_ie, sys->fn("con_ie." + id, "syn"), weight_sample_interval);
		monitor_ie->add_equally_spaced(n_monitored_synapses);
		completed = fsbi::run_until(score_stop, ls);
	}
	const double stop_time = sys->get_time();
	auryn_free();  // closes the monitor files before the marker announces the result
	fsbi::print_marker(completed, stop_time);
	return 0;
}
