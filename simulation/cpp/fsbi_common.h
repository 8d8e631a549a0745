// Shared pieces of the fsbi-data Auryn programs: rule-token decoding, input validation,
// phase running with integer step counts, and the result marker.
//
// Described in docs/network-model.md, whose sections the comments below cite (5.6, 6, 7, 8,
// 10.1; differences from the original programs: 12).
#ifndef FSBI_COMMON_H_
#define FSBI_COMMON_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "auryn.h"

namespace fsbi {

// Exit status of a run whose input was rejected before any simulation.
const int EXIT_BAD_INPUT = 2;

// Finiteness from the bit pattern: the programs are compiled with -ffast-math, under which
// std::isfinite may be folded to true.
inline bool is_finite(double value)
{
	std::uint64_t bits;
	std::memcpy(&bits, &value, sizeof bits);
	return ((bits >> 52) & 0x7ff) != 0x7ff;
}

struct InputError : public std::runtime_error {
	explicit InputError(const std::string& what) : std::runtime_error(what) {}
};

// Decode an "a"-separated number token: a<v0>a<v1>a...a<vK-1>a (section 5.6).
// Unlike the original programs, every malformed token is rejected: a missing leading or
// trailing separator, an empty field, a field that is not a number, a non-finite number,
// or a count different from `expected`.
inline std::vector<double> decode_rule(const std::string& option, const std::string& token,
                                       std::size_t expected)
{
	std::ostringstream where;
	where << "option --" << option << ": ";
	if (token.size() < 2 || token.front() != 'a' || token.back() != 'a') {
		throw InputError(where.str() + "a rule token must start and end with the separator "
		                 "'a', e.g. a0.02a0.05a0.3a-0.1a1.2a-0.8a; got '" + token + "'");
	}
	std::vector<double> values;
	std::size_t start = 1;
	while (start < token.size()) {
		std::size_t end = token.find('a', start);
		std::string field = token.substr(start, end - start);
		if (field.empty()) {
			throw InputError(where.str() + "empty field (two separators in a row) in '" +
			                 token + "'");
		}
		char* stop = nullptr;
		double value = std::strtod(field.c_str(), &stop);
		if (stop == field.c_str() || *stop != '\0') {
			throw InputError(where.str() + "field '" + field + "' is not a number");
		}
		if (!is_finite(value)) {
			throw InputError(where.str() + "field '" + field + "' is not a finite number");
		}
		values.push_back(value);
		start = end + 1;
	}
	if (values.size() != expected) {
		std::ostringstream msg;
		msg << where.str() << "expected " << expected << " numbers, found " << values.size();
		throw InputError(msg.str());
	}
	return values;
}

inline void require_positive(const std::string& what, double value)
{
	if (!is_finite(value) || !(value > 0.0)) {
		std::ostringstream msg;
		msg << what << " must be a positive finite number; got " << value;
		throw InputError(msg.str());
	}
}

inline void require_nonnegative(const std::string& what, double value)
{
	if (!is_finite(value) || !(value >= 0.0)) {
		std::ostringstream msg;
		msg << what << " must be a non-negative finite number; got " << value;
		throw InputError(msg.str());
	}
}

// Number of integration steps of a phase: round(duration / dt) (sections 2.1, 12.2).
inline auryn::AurynTime steps_of(double duration)
{
	return static_cast<auryn::AurynTime>(std::llround(duration / auryn::auryn_timestep));
}

// Run until the clock reaches `stop_step`; true when no checker aborted the run and the clock
// reached the planned step. Auryn's public run calls take a single-precision duration, so the
// phase runs in chunks of at most 10^6 steps, each requested as (k + 0.5) steps: the float
// error is far below half a step and Auryn's truncation yields exactly k steps.
inline bool run_until(auryn::AurynTime stop_step, double total_time)
{
	const auryn::AurynTime max_chunk = 1000000;
	const double start = auryn::sys->get_time();
	while (auryn::sys->get_clock() < stop_step) {
		const auryn::AurynTime chunk = std::min(stop_step - auryn::sys->get_clock(), max_chunk);
		const auryn::AurynFloat duration =
		    static_cast<auryn::AurynFloat>((chunk + 0.5) * auryn::auryn_timestep);
		if (!auryn::sys->run_chunk(duration, start, start + total_time, true)) return false;
	}
	return auryn::sys->get_clock() == stop_step;
}

// The result marker: "cynthia-1cynthia" for a completed run, "cynthia<t>cynthia" with the
// abort time otherwise (default stream formatting, no trailing newline; section 6).
inline void print_marker(bool completed, double stop_time)
{
	if (completed) std::cout << "cynthia-1cynthia";
	else std::cout << "cynthia" << stop_time << "cynthia";
	std::cout.flush();
}


// Options shared by both programs, with the paper's values as defaults (section 7.1).
struct NetworkOptions {
	std::string id = "0", workdir;
	unsigned int seed = 0;
	int n_e = 4096, n_i = 1024, n_input = 5000, n_recorded = 1000, n_recorded_i = 500;
	int n_monitored_synapses = 100;
	double tau_ampa = 5e-3, tau_gaba = 10e-3, tau_nmda = 100e-3, ampa_nmda_ratio = 0.3;
	double wmax = 20.0, wee = 0.1, wei = 0.1, wie = 1.0, wii = 1.0;
	double sparseness = 0.1, sparseness_poisson = 0.05, rate_poisson = 10.0;
	double weight_poisson = 0.075, max_rate_checker, tau_checker = 1.0;
	double lns = 60.0, ls = 10.0, weight_sample_interval = 0.1;
	bool record_i = true;

	explicit NetworkOptions(double default_max_rate) : max_rate_checker(default_max_rate) {}

	void add_to(boost::program_options::options_description& desc)
	{
		namespace po = boost::program_options;
		desc.add_options()
			("help", "print this help")
			("ID", po::value<std::string>(&id), "label used in the output file names")
			("seed", po::value<unsigned int>(&seed)->required(), "network seed (>= 1): connectivity and input")
			("workdir", po::value<std::string>(&workdir)->required(), "existing output directory")
			("rate_poisson", po::value<double>(&rate_poisson)->required(), "input rate [Hz]")
			("NE", po::value<int>(&n_e), "excitatory population size")
			("NI", po::value<int>(&n_i), "inhibitory population size")
			("tau_ampa", po::value<double>(&tau_ampa), "AMPA time constant [s]")
			("tau_gaba", po::value<double>(&tau_gaba), "GABA time constant [s]")
			("tau_nmda", po::value<double>(&tau_nmda), "NMDA time constant [s]")
			("ampa_nmda_ratio", po::value<double>(&ampa_nmda_ratio), "AMPA/NMDA ratio")
			("wmax", po::value<double>(&wmax), "upper weight bound of plastic synapses")
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
	}

	void validate() const
	{
		if (seed < 1) throw InputError("--seed must be >= 1 (0 would mean a clock seed)");
		require_nonnegative("--rate_poisson", rate_poisson);
		require_nonnegative("--lns", lns);
		require_positive("--ls", ls);
		require_positive("--weight_sample_interval", weight_sample_interval);
		if (n_monitored_synapses < 1) throw InputError("--n_monitored_synapses must be >= 1");
		if (n_e < 1 || n_i < 1 || n_input < 1)
			throw InputError("--NE, --NI and --N_input must be >= 1");
		if (n_recorded > n_e || n_recorded_i > n_i)
			throw InputError("--n_recorded / --n_recorded_i exceed the population size");
	}
};

// Parse the command line into the variables bound in `desc`; false after printing the help.
inline bool parse_options(int ac, char* av[],
                          const boost::program_options::options_description& desc)
{
	namespace po = boost::program_options;
	po::variables_map vm;
	po::store(po::parse_command_line(ac, av, desc), vm);
	if (vm.count("help")) {
		std::cerr << desc << std::endl;
		return false;
	}
	po::notify(vm);
	return true;
}

// Start Auryn quietly (logging off, no progress bar: stdout carries only the marker) with
// the output directory and the network seed, before any group is created.
inline void start_kernel(int ac, char* av[], const NetworkOptions& o)
{
	auryn::auryn_init(ac, av, o.workdir, "default", "", auryn::NONE, auryn::NONE);
	auryn::sys->quiet = true;
	auryn::sys->set_master_seed(o.seed);
}

// The spike monitors of the scoring phase: E neurons 0..n_recorded-1, I if requested.
inline void record_spikes(const NetworkOptions& o, auryn::SpikingGroup* e, auryn::SpikingGroup* i)
{
	new auryn::SpikeMonitor(e, auryn::sys->fn("out.e." + o.id, "ras"), o.n_recorded);
	if (o.record_i)
		new auryn::SpikeMonitor(i, auryn::sys->fn("out.i." + o.id, "ras"), o.n_recorded_i);
}

// A weight monitor following equally spaced synapses of a plastic projection ("con_<name>").
inline void record_weights(const NetworkOptions& o, auryn::SparseConnection* connection,
                           const std::string& name)
{
	auryn::WeightMonitor* monitor = new auryn::WeightMonitor(
	    connection, auryn::sys->fn("con_" + name + "." + o.id, "syn"), o.weight_sample_interval);
	monitor->add_equally_spaced(o.n_monitored_synapses);
}

}  // namespace fsbi

#endif  // FSBI_COMMON_H_
