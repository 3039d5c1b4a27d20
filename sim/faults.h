/* faults: the sim's fault specs (grammar in server.h). Not written yet. */
#ifndef BF_SIM_FAULTS_H
#define BF_SIM_FAULTS_H
#endif
