# Receive rate (ratio to the no-rule baseline) against the number of VIPs, 64-byte packets:
# one panel per kernel and family. tests/bench/run.sh calls it with
#   gnuplot -e "out='PNG'; dir='DATADIR'; k1='KREL1'; k2='KREL2'" vips.gp
# (k2 may be ''); report.py wrote DATADIR/vips-KREL-ipvFAM.dat, with one block per series
# (map, rev0 chain, nft rules, nft map, map through the direct hook): VIPS MEDIAN MIN MAX.
set terminal pngcairo size 1400,1000 font ",11" noenhanced
set output out
set logscale x 2
set xrange [0.7:100000]
set xtics ("1" 1, "63" 63, "4,096" 4096, "65,536" 65536)
set yrange [0:1.4]
set ytics 0.1
set grid ytics
set key below horizontal maxcols 3 width -6 font ",9"
set xlabel "VIPs (map entries per family; rules for the chains; 63 map entries for nft map)"
set ylabel "receive rate / no-rule baseline"
ks = (k2 eq '') ? k1 : k1 . ' ' . k2
n = words(ks)
set multiplot layout n,2 title "Real-server receive path, pktgen netif_receive, 64-byte UDP, median with min-max over the rounds"
do for [i=1:n] {
	do for [fam in "4 6"] {
		f = sprintf("%s/vips-%s-ipv%s.dat", dir, word(ks, i), fam)
		set title sprintf("%s, IPv%s", word(ks, i), fam)
		# The series share x = 1 and 63: nudged apart so that none hides another.
		plot f index 0 using 1:2:3:4 with yerrorlines lw 2 pt 7 title "map mode (-j DADDR --map)", \
		     f index 1 using ($1*0.85):2:3:4 with yerrorlines lw 2 pt 5 title "rev0 chain (1 / 63 rules, hit last)", \
		     f index 2 using ($1*1.18):2:3:4 with yerrorlines lw 2 pt 9 title "nft rules (1 / 63, hit last)", \
		     f index 3 using ($1*1.38):2:3:4 with yerrorbars lw 2 pt 13 ps 1.5 title "nft map (63 entries)", \
		     f index 4 using ($1*0.72):2:3:4 with yerrorlines lw 2 pt 11 lc rgb "dark-red" title "map, direct hook", \
		     0.85 with lines dt 2 lc rgb "gray40" title "goal: 0.85", \
		     0.90 with lines dt 3 lc rgb "dark-red" title "goal, direct hook: 0.90"
	}
}
unset multiplot
